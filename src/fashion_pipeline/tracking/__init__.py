"""Recording at the edges: the MLflow run of a stage (mlflow_runs), the store's checks (store),
each epoch's row on its way to the history and the log (progress), and the study tags (studies).
Nothing here changes a number, so an edit here re-runs no stage."""
