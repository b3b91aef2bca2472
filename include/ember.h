/*
 * ember.h - the whole public API of ember, a tensor runtime for C.
 */
#ifndef EMBER_H
#define EMBER_H

#define EMBER_VERSION_MAJOR 0
#define EMBER_VERSION_MINOR 1
#define EMBER_VERSION_PATCH 0
#define EMBER_VERSION "0.1.0"

#include "ember/error.h"
#include "ember/runtime.h"
#include "ember/tensor.h"
#include "ember/device.h"
#include "ember/ops.h"
#include "ember/nn.h"
#include "ember/random.h"
#include "ember/tape.h"
#include "ember/variable.h"
#include "ember/optim.h"
#include "ember/data.h"
#include "ember/trace.h"
#include "ember/control.h"
#include "ember/checkpoint.h"
#include "ember/graph_file.h"
#include "ember/export.h"
#include "ember/npy.h"

#endif
