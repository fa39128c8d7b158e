"""`make bench`, the roofline part: what a training stage's work costs on this machine when each
part of it runs alone, at the stage's own shapes, in one compiled loop (XLA, no Python between
steps), timed in the same run as the stage it judges. The parts of one epoch:
- the matrix products of every step, forward and backward (batch 32 for Keras, the whole
  training set at once for Part A), each operand laid out as the stage's gradient reads it:
  TensorFlow's gradient of `x @ w` reads `x` transposed for the weight gradient and `w`
  transposed for the input gradient (MatMul's `transpose_a` and `transpose_b`);
- Adam's update of every weight and bias, once a step;
- the dropout masks, where the stage has dropout;
- the measurement passes after the epoch, every measured set in inference mode.
Their sum, times the epochs, is the stage's roofline: its time if nothing else cost anything.
Each timed loop adds one sum over its products' outputs, so their results are used (under 2 %
of a product's FLOPs). The rest of a step (the batch's gathers, each layer's bias and
activation, softmax, the loss and the hits, their gradients) is timed the same way and given
beside the roofline, not in it: it is the step's work that no product or update accounts for,
and what a small network's ratio to its roofline is made of. So are the same products with every
operand transposed beforehand: what reading an operand transposed costs at the stage's shapes,
which a stage could save only by changing the code that every stage of its kind depends on.
"""

import math
import time

import keras
import tensorflow as tf

from fashion_pipeline.models import dropout_rates
from fashion_pipeline.tools.stage_costs import layer_sizes

PARTS = ("products", "optimizer", "dropout", "measurement")


def product_shapes(sizes, rows, backward):
    """The (rows, inner, columns, transposed) of every matrix product of one pass through layers
    `sizes` for `rows` images: forward, then (when `backward`) each layer's weight gradient and,
    but for the first layer, its input gradient. `transposed` names the operand the product reads
    transposed, as TensorFlow's MatMul gradient lays it out: "left" (the layer's input, for the
    weight gradient), "right" (the weights, for the input gradient) or None."""
    layers = list(zip(sizes[:-1], sizes[1:]))
    shapes = [(rows, fan_in, fan_out, None) for fan_in, fan_out in layers]
    if backward:
        shapes += [(fan_in, rows, fan_out, "left") for fan_in, fan_out in layers]
        shapes += [(rows, fan_out, fan_in, "right") for fan_in, fan_out in layers[1:]]
    return shapes


def product_flops(shapes):
    return sum(2 * rows * inner * columns for rows, inner, columns, _ in shapes)


def seconds_per_repeat(step, repeats, rounds):
    """The fastest of `rounds` timings of `repeats` calls of step(index, carry) -> carry, run as
    one compiled loop, per call. The carry, a scalar, makes each call depend on the last, so the
    compiler can neither hoist a call out of the loop nor drop it."""
    loop = tf.function(lambda carry: tf.while_loop(lambda index, _: index < repeats,
                                                   lambda index, value: (index + 1, step(index, value)),
                                                   (tf.constant(0), carry))[1], jit_compile=True)
    start = tf.constant(0.0)
    loop(start).numpy()
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        loop(start).numpy()
        timings.append(time.perf_counter() - started)
    return min(timings) / repeats


def products_step(shapes, laid_out=True):
    """One step of the matrix products `shapes` on random operands of a normal scale, each operand
    read transposed where `shapes` says (when `laid_out`) or every one transposed beforehand."""
    # (left, right, the operand read transposed, whether the carry goes into the left): into the
    # smaller operand, as an elementwise pass over a large one would cost more than a thin
    # product (ten classes, a whole training set) itself.
    operands = []
    for rows, inner, columns, transposed in shapes:
        transposed = transposed if laid_out else None
        left = tf.random.normal([inner, rows] if transposed == "left" else [rows, inner])
        right = tf.random.normal([columns, inner] if transposed == "right" else [inner, columns]) / math.sqrt(inner)
        operands.append((left, right, transposed, rows <= columns))

    def step(index, carry):
        return carry + 1e-30 * tf.add_n([
            tf.reduce_sum(tf.matmul(left + carry if carry_left else left, right if carry_left else right + carry,
                                    transpose_a=transposed == "left", transpose_b=transposed == "right"))
            for left, right, transposed, carry_left in operands])

    return step


def optimizer_step(sizes, learning_rate):
    """One Adam update (Keras's, as both parts train with) of a network of layers `sizes`."""
    variables = [keras.Variable(tf.random.normal(shape) * 0.05)
                 for fan_in, fan_out in zip(sizes[:-1], sizes[1:]) for shape in ([fan_in, fan_out], [fan_out])]
    gradients = [tf.random.normal(variable.shape) * 1e-3 for variable in variables]
    optimizer = keras.optimizers.Adam(learning_rate=learning_rate)
    optimizer.build(variables)

    # The variables change at every call, so each update runs; the gradients stay the same.
    def step(index, carry):
        optimizer.apply(gradients, variables)
        return carry + 1e-30 * tf.reduce_sum(variables[-1])

    return step


def dropout_step(widths_and_rates, rows):
    """The inverted-dropout masks of one step, drawn as the Keras stages draw them (Threefry)."""
    outputs = [(tf.random.normal([rows, width]), rate) for width, rate in widths_and_rates]

    def step(index, carry):
        masked = [tf.where(tf.random.stateless_uniform(output.shape, seed=tf.cast(tf.stack([index, layer]), tf.int64),
                                                       alg="threefry") >= rate, output / (1.0 - rate), 0.0)
                  for layer, (output, rate) in enumerate(outputs)]
        return carry + 1e-30 * tf.add_n([tf.reduce_sum(mask) for mask in masked])

    return step


def elementwise_step(sizes, rows, data_rows):
    """The rest of one training step at its shapes, the products' outputs stood in for by
    random ones: the batch's rows gathered from the training set, each layer's bias and ReLU,
    softmax, the clipped cross-entropy and the hits, the loss's gradient and every bias's."""
    table = tf.random.uniform([data_rows, sizes[0]])
    targets = tf.one_hot(tf.random.uniform([data_rows], 0, sizes[-1], dtype=tf.int32), sizes[-1])
    outputs = [tf.random.normal([rows, width]) for width in sizes[1:]]
    biases = [tf.random.normal([width]) * 0.01 for width in sizes[1:]]

    def step(index, carry):
        # A full batch (Part A) is the training set itself: nothing is gathered.
        taken = (tf.range(rows) + index * rows) % data_rows
        features, labels = (table, targets) if rows == data_rows else (tf.gather(table, taken), tf.gather(targets, taken))
        hidden = [tf.nn.relu(output + bias + carry) for output, bias in zip(outputs[:-1], biases[:-1])]
        probabilities = tf.nn.softmax(outputs[-1] + biases[-1] + carry)
        loss = -tf.reduce_mean(tf.reduce_sum(labels * tf.math.log(tf.clip_by_value(probabilities, 1e-7, 1.0)), 1))
        hits = tf.reduce_sum(tf.cast(tf.argmax(probabilities, 1) == tf.argmax(labels, 1), tf.float32))
        gradient = (probabilities - labels) / rows
        bias_gradients = [tf.reduce_sum(gradient, 0)] + [tf.reduce_sum(tf.where(layer > 0, layer, 0.0), 0)
                                                         for layer in hidden]
        # One element of the batch keeps its gather in the loop; a sum over a full batch would be
        # work no step does.
        return carry + 1e-30 * (loss + hits + tf.add_n([tf.reduce_sum(part) for part in bias_gradients])
                                + features[0, 0])

    return step


def seconds_per_epoch(roofline):
    """A stage's roofline per epoch: the sum of its parts."""
    return sum(roofline["seconds_per_epoch"].values())


def stage_roofline(spec, kind, train_count, measured_counts, epochs, repeats=200, rounds=3):
    """A training stage's roofline: seconds per epoch of each of PARTS, their sum times `epochs`,
    and the FLOPs of its matrix products per epoch. `measured_counts`: the images of each set
    measured after every epoch."""
    sizes = layer_sizes(spec["hidden_units"])
    batch = train_count if kind == "lowlevel" else spec["batch_size"]
    steps = train_count / batch
    # A full-batch step is long enough to time alone.
    step_repeats = 2 if kind == "lowlevel" else repeats
    train_shapes = product_shapes(sizes, batch, backward=True)
    measured_shapes = [shape for count in measured_counts for shape in product_shapes(sizes, count, backward=False)]
    per_epoch = {
        "products": steps * seconds_per_repeat(products_step(train_shapes), step_repeats, rounds),
        "optimizer": steps * seconds_per_repeat(optimizer_step(sizes, spec["learning_rate"]), repeats, rounds),
        "measurement": seconds_per_repeat(products_step(measured_shapes), 2, rounds),
    }
    rates = [(width, rate) for width, rate in zip(spec["hidden_units"], dropout_rates(spec["hidden_units"],
                                                                                    spec.get("dropout", 0.0)))
             if rate > 0]
    per_epoch["dropout"] = steps * seconds_per_repeat(dropout_step(rates, batch), repeats, rounds) if rates else 0.0
    elementwise = steps * seconds_per_repeat(elementwise_step(sizes, batch, train_count), step_repeats, rounds)
    pretransposed = steps * seconds_per_repeat(products_step(train_shapes, laid_out=False), step_repeats, rounds)
    return {"epochs": epochs,
            "seconds_per_epoch": {part: per_epoch[part] for part in PARTS},
            "elementwise_seconds_per_epoch": elementwise,
            # The training products again, every operand transposed beforehand.
            "pretransposed_products_seconds_per_epoch": pretransposed,
            # The rate the products ran at, against the large-matrix rate of matmul_gflops.
            "products_gflops": steps * product_flops(train_shapes) / per_epoch["products"] / 1e9,
            "roofline_seconds": epochs * sum(per_epoch.values())}
