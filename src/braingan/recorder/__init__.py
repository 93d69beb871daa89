"""The one place that records what the stages compute: the files DVC tracks and the MLflow
runs. `training.run` and `evaluation.run` compute and return typed results; the stage entry
points hand them (and, while training runs, its events) to the recorder: `recorder.training`
for the train stage, `recorder.evaluation` for the evaluate stage (two modules, so that each
stage depends only on the code it runs).

MLflow, as its users expect:
- one training run per trained model, named after its DVC experiment, with all params as
  dotted keys, the loss and probe curves (batched), sample pictures by step, the training
  data as MLflow datasets, CPU and memory system metrics, source and git tags, and the
  generator as a pyfunc model logged from code (a LoggedModel);
- each evaluation is a child run of its training run (its own params, so a new `evaluate.*`
  value never collides with MLflow's "params are immutable" rule); the headline metrics and
  pictures are also logged on the training run and linked to its LoggedModel, so the runs
  table and the models view compare generators side by side;
- a run resumed from a checkpoint with the same params goes on in the same MLflow run;
  other params that do not change the computation (more `train.steps`) start a new run
  tagged `braingan.continued_from`, which carries the curve of the steps it continues.
"""
