/*
 * The op list: one row per primitive op, expanded by EM__OP(ID, name,
 * arity). An arity of -1 means any number of inputs (at least one).
 *
 * The eager table (eager/op_table.c) gives each row its shape rule and CPU
 * kernel; the tape's table (tape/gradients.c) gives its gradient rule. Ops
 * the public API offers but builds from these (mean, variance, logsumexp,
 * stack, the losses, ...) are not rows: their gradients follow from the
 * primitives they call.
 */

/* elementwise, one input (eager/ops_unary.c) */
EM__OP(NEG, "neg", 1)
EM__OP(ABS, "abs", 1)
EM__OP(SIGN, "sign", 1)
EM__OP(EXP, "exp", 1)
EM__OP(LOG, "log", 1)
EM__OP(LOG1P, "log1p", 1)
EM__OP(SQRT, "sqrt", 1)
EM__OP(RSQRT, "rsqrt", 1)
EM__OP(SQUARE, "square", 1)
EM__OP(RECIPROCAL, "reciprocal", 1)
EM__OP(SIN, "sin", 1)
EM__OP(COS, "cos", 1)
EM__OP(TANH, "tanh", 1)
EM__OP(SIGMOID, "sigmoid", 1)
EM__OP(RELU, "relu", 1)
EM__OP(LEAKY_RELU, "leaky_relu", 1)
EM__OP(ELU, "elu", 1)
EM__OP(GELU, "gelu", 1)
EM__OP(SOFTPLUS, "softplus", 1)
EM__OP(ERF, "erf", 1)
EM__OP(STEP, "step", 1)
EM__OP(LOGICAL_NOT, "logical_not", 1)

/* elementwise, broadcasting (eager/ops_binary.c) */
EM__OP(ADD, "add", 2)
EM__OP(SUB, "sub", 2)
EM__OP(MUL, "mul", 2)
EM__OP(DIV, "div", 2)
EM__OP(POW, "pow", 2)
EM__OP(MAXIMUM, "maximum", 2)
EM__OP(MINIMUM, "minimum", 2)
EM__OP(EQUAL, "equal", 2)
EM__OP(NOT_EQUAL, "not_equal", 2)
EM__OP(LESS, "less", 2)
EM__OP(LESS_EQUAL, "less_equal", 2)
EM__OP(GREATER, "greater", 2)
EM__OP(GREATER_EQUAL, "greater_equal", 2)
EM__OP(LOGICAL_AND, "logical_and", 2)
EM__OP(LOGICAL_OR, "logical_or", 2)
EM__OP(WHERE, "where", 3)

/* reductions (eager/ops_reduce.c) */
EM__OP(SUM, "sum", 1)
EM__OP(MAX, "max", 1)
EM__OP(MIN, "min", 1)
EM__OP(ARGMAX, "argmax", 1)
EM__OP(ARGMIN, "argmin", 1)

/* matrix product (eager/ops_matmul.c) */
EM__OP(MATMUL, "matmul", 2)

/* shape and data movement (eager/ops_shape.c) */
EM__OP(RESHAPE, "reshape", 1)
EM__OP(PERMUTE, "permute", 1)
EM__OP(BROADCAST_TO, "broadcast_to", 1)
EM__OP(CONCAT, "concat", -1)
EM__OP(SLICE, "slice", 1)
EM__OP(GATHER, "gather", 2)
EM__OP(ONE_HOT, "one_hot", 1)
EM__OP(CAST, "cast", 1)
EM__OP(COPY, "copy", 1)
EM__OP(STOP_GRADIENT, "stop_gradient", 1)

/* neural-network primitives (eager/ops_nn.c) */
EM__OP(SOFTMAX, "softmax", 1)
EM__OP(LOG_SOFTMAX, "log_softmax", 1)

/* variable updates, in place on input 0 (eager/variable.c) */
EM__OP(ASSIGN, "assign", 2)
EM__OP(ASSIGN_ADD, "assign_add", 2)
EM__OP(ASSIGN_SUB, "assign_sub", 2)
/* v = alpha v + x, and v -= s x with s a one-element tensor: an
 * optimiser's momentum and step in one pass each */
EM__OP(ASSIGN_SCALE_ADD, "assign_scale_add", 2)
EM__OP(ASSIGN_SUB_SCALED, "assign_sub_scaled", 3)
