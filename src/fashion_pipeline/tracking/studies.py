"""Which study of the coursework each run belongs to (params.yaml's `studies`), for the MLflow
tags that select a study exactly (`tags.studies LIKE '%dropout_4l%'`)."""

PARTS = {"lowlevel": "A", "keras": "B", "holdout": "B", "optimizer": "Essay"}
# The optimizer study is params.yaml's `optimizers` section, which answers the essay.
OPTIMIZER_STUDY = ("Essay", ("optimizers",))


def tags(run, studies):
    """The part, question and studies of a run (runs.Run), as MLflow tags, and a one-line
    description. An experiment's question is that of the first study listing it; a held-out run
    is in the held-out study alone (its run's own tags say so)."""
    name = run.name
    if run.kind == "optimizer":
        question, names = OPTIMIZER_STUDY
    else:
        names = tuple(study for study, spec in studies.items() if name in spec["experiments"])
        question = studies[names[0]]["question"] if names else ""
    part = PARTS[run.kind]
    description = f"Part {part}" + (f", question {question}" if question else "") + f": {name}"
    if run.kind == "holdout":
        description = f"Part {part}, best model on a held-out split: {name}"
    return {"part": part, "question": question, "studies": ",".join(names), "mlflow.note.content": description}
