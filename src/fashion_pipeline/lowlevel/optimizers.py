"""Optimizers written out from their update rules, as the coursework's research section describes them:
SGD, SGD with momentum, RMSprop, Adagrad, Adamax and Adam, plus inverse-time learning-rate decay.

Every rule is a pure function
    rule(weights, gradient, slots, step, learning_rate, **settings) -> (weights, slots)
where `slots` is the tuple of per-parameter state (moments, accumulators) and `step` counts
updates from 1. They follow Keras's conventions (where epsilon sits, Adagrad's starting
accumulator), so each matches the Keras optimizer of the same name step for step.
"""

import dataclasses
import inspect

import tensorflow as tf


def sgd(weights, gradient, slots, step, learning_rate):
    """w <- w - lr g"""
    return weights - learning_rate * gradient, slots


def sgd_momentum(weights, gradient, slots, step, learning_rate, momentum):
    """Keras's form of momentum: v <- momentum v - lr g; w <- w + v.
    (The coursework's m <- beta m + lr g is the same with the sign folded into the update.)"""
    (velocity,) = slots
    velocity = momentum * velocity - learning_rate * gradient
    return weights + velocity, (velocity,)


def rmsprop(weights, gradient, slots, step, learning_rate, rho, epsilon):
    """A running mean of g^2 scales each parameter's step: w <- w - lr g / sqrt(s + eps).
    Keras puts epsilon inside the square root."""
    (mean_square,) = slots
    mean_square = rho * mean_square + (1 - rho) * tf.square(gradient)
    return weights - learning_rate * gradient / tf.sqrt(mean_square + epsilon), (mean_square,)


def adagrad(weights, gradient, slots, step, learning_rate, epsilon):
    """The sum of every g^2 so far scales the step, so it only ever shrinks."""
    (accumulator,) = slots
    accumulator = accumulator + tf.square(gradient)
    return weights - learning_rate * gradient / tf.sqrt(accumulator + epsilon), (accumulator,)


def adamax(weights, gradient, slots, step, learning_rate, beta_1, beta_2, epsilon):
    """Adam with the infinity norm: u <- max(beta_2 u, |g|) needs no bias correction."""
    first_moment, infinity_norm = slots
    first_moment = beta_1 * first_moment + (1 - beta_1) * gradient
    infinity_norm = tf.maximum(beta_2 * infinity_norm, tf.abs(gradient))
    step_size = learning_rate / (1 - beta_1**step)
    return weights - step_size * first_moment / (infinity_norm + epsilon), (first_moment, infinity_norm)


def adam(weights, gradient, slots, step, learning_rate, beta_1, beta_2, epsilon, bias_correction):
    """m <- beta_1 m + (1 - beta_1) g;  v <- beta_2 v + (1 - beta_2) g^2;
    w <- w - lr m_hat / (sqrt(v_hat) + eps) with m_hat = m / (1 - beta_1^t), v_hat = v / (1 - beta_2^t).

    The two corrections are folded into the step size, lr sqrt(1 - beta_2^t) / (1 - beta_1^t), as
    in Section 2 of Kingma & Ba and in Keras; epsilon then sits beside sqrt(v), not sqrt(v_hat).
    Without bias correction the step is lr m / (sqrt(v) + eps)."""
    first_moment, second_moment = slots
    first_moment = beta_1 * first_moment + (1 - beta_1) * gradient
    second_moment = beta_2 * second_moment + (1 - beta_2) * tf.square(gradient)
    step_size = learning_rate
    if bias_correction:
        step_size = learning_rate * tf.sqrt(1 - beta_2**step) / (1 - beta_1**step)
    update = step_size * first_moment / (tf.sqrt(second_moment) + epsilon)
    return weights - update, (first_moment, second_moment)


def inverse_time_decay(learning_rate, decay_rate, step):
    """lr / (1 + decay_rate (t - 1)): Andrew Ng's 1 / (1 + decay_rate * epoch) counting epochs
    from 0, and Keras's InverseTimeDecay with decay_steps 1. decay_rate 0 keeps lr constant."""
    return learning_rate / (1 + decay_rate * (step - 1))


@dataclasses.dataclass(frozen=True)
class Rule:
    update: object
    slot_count: int
    # Adagrad's accumulator starts at this hyperparameter (Keras: 0.1); every other slot at 0.
    first_slot_start: str = ""


# params.OPTIMIZER_RULES validates the keys each rule reads; a test holds it to these signatures.
RULES = {
    "sgd": Rule(sgd, 0),
    "sgd_momentum": Rule(sgd_momentum, 1),
    "rmsprop": Rule(rmsprop, 1),
    "adagrad": Rule(adagrad, 1, first_slot_start="initial_accumulator_value"),
    "adamax": Rule(adamax, 2),
    "adam": Rule(adam, 2),
}


def hyperparameters(rule_name):
    """The keys of a run's spec passed to the rule's update: its arguments after the learning rate."""
    arguments = list(inspect.signature(RULES[rule_name].update).parameters)
    return tuple(arguments[arguments.index("learning_rate") + 1:])


def initial_slots(rule_name, weights, spec):
    """The starting state of one parameter tensor."""
    rule = RULES[rule_name]
    slots = [tf.zeros_like(weights) for _ in range(rule.slot_count)]
    if rule.first_slot_start:
        slots[0] = tf.fill(tf.shape(weights), tf.cast(spec[rule.first_slot_start], weights.dtype))
    return tuple(slots)


def make_update(spec):
    """For a run's spec, a factory: variables -> (update, slot variables). update(gradients,
    step) applies the rule in place (inside tf.function) and returns the learning rate it used."""
    rule = RULES[spec["rule"]]
    settings = {key: spec[key] for key in hyperparameters(spec["rule"])}

    def bind(variables):
        slots = [[tf.Variable(start, trainable=False) for start in initial_slots(spec["rule"], variable, spec)]
                 for variable in variables]

        def update(gradients, step):
            learning_rate = inverse_time_decay(spec["learning_rate"], spec["decay_rate"], step)
            for variable, gradient, state in zip(variables, gradients, slots):
                weights, new_state = rule.update(
                    variable, gradient, tuple(state), step, learning_rate, **settings)
                variable.assign(weights)
                for slot, value in zip(state, new_state):
                    slot.assign(value)
            return learning_rate

        return update, [slot for state in slots for slot in state]

    return bind
