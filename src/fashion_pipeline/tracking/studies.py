"""Which study of the coursework each run belongs to, for the MLflow tags that select a study
exactly (`tags.studies LIKE '%dropout_4l%'`). A name not listed gets its kind's part alone."""

# name -> (part, the coursework's question, the studies it takes part in)
STUDIES = {
    "lowlevel_softmax": ("A", "A 1-1", ("softmax",)),
    "lowlevel_net_a": ("A", "A 1-2-1", ("network_a_vs_b",)),
    "lowlevel_net_b": ("A", "A 1-2-2", ("network_a_vs_b", "regularization")),
    "lowlevel_net_b_l1": ("A", "A 3", ("regularization",)),
    "lowlevel_net_b_l2": ("A", "A 3", ("regularization",)),
    "keras_softmax": ("B", "B i", ("architectures",)),
    "keras_2l": ("B", "B i", ("architectures",)),
    "keras_3l": ("B", "B i", ("architectures", "pixel_scale")),
    "keras_4l": ("B", "B i", ("architectures", "dropout_4l", "pixel_scale")),
    "keras_5l": ("B", "B i", ("architectures", "dropout_5l", "pixel_scale")),
    "keras_4l_drop20": ("B", "B ii", ("dropout_4l",)),
    "keras_4l_drop30": ("B", "B ii", ("dropout_4l",)),
    "keras_4l_drop_taper": ("B", "B ii", ("dropout_4l",)),
    "keras_5l_drop20": ("B", "B ii", ("dropout_5l",)),
    "keras_5l_drop30": ("B", "B ii", ("dropout_5l",)),
    "keras_5l_drop_taper": ("B", "B ii", ("dropout_5l",)),
    "keras_3l_raw": ("B", "B i", ("pixel_scale",)),
    "keras_4l_raw": ("B", "B i", ("pixel_scale",)),
    "keras_5l_raw": ("B", "B i", ("pixel_scale",)),
}
PARTS = {"lowlevel": "A", "keras": "B", "optimizer": "Essay"}


def tags(name, kind):
    """The part, question and studies of a run, as MLflow tags, and a one-line description."""
    if kind == "optimizer":
        part, question, studies = "Essay", "Essay", ("optimizers",)
    else:
        part, question, studies = STUDIES.get(name, (PARTS[kind], "", ()))
    description = f"Part {part}" + (f", question {question}" if question else "") + f": {name}"
    return {"part": part, "question": question, "studies": ",".join(studies),
            "mlflow.note.content": description}
