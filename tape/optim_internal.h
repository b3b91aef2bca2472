/*
 * tape/optim_internal.h - the optimiser's layout, shared by the update rules
 * (optim.c) and the learning-rate schedules (optim_schedule.c).
 */
#ifndef EMBER_TAPE_OPTIM_INTERNAL_H
#define EMBER_TAPE_OPTIM_INTERNAL_H

#include "internal.h"

typedef enum em__optim_kind {
    EM__OPTIM_SGD,
    EM__OPTIM_ADAM,
    EM__OPTIM_ADAMW,
    EM__OPTIM_RMSPROP
} em__optim_kind;

/* The state of one variable, found by the variable's id (ids are never
 * reused, so a freed variable's slot can never be taken for another). */
typedef struct em__optim_slot {
    uint64_t id;         /* 0: empty */
    em_tensor *state[2]; /* momentum / first and second moments */
    /* The optimiser's step count at the variable's first update: Adam's
     * bias correction uses the steps since then, so that a variable first
     * updated late starts its correction at 1. Fixed once the slot exists,
     * so a traced step may use it as a constant. */
    int64_t first_step;
} em__optim_slot;

struct em_optimizer {
    em__optim_kind kind;
    double lr;
    double momentum; /* SGD and RMSprop momentum; Adam's beta1 */
    double beta2;    /* Adam's beta2; RMSprop's rho */
    double epsilon;
    double weight_decay; /* AdamW */
    bool nesterov;

    em_lr_schedule schedule; /* NULL: constant */
    void *schedule_user;
    int64_t schedule_every; /* step schedule */
    double schedule_gamma;
    int64_t schedule_total; /* cosine schedule */
    double schedule_min_lr;

    double clip_norm; /* 0: off */
    /* Updates applied so far: an int64 scalar variable, so that a traced
     * step reads and advances it at every call, and schedules and bias
     * corrections computed from it with ops stay right on replay. */
    em_tensor *steps;
    /* Scalars every update uses, made once (float64 but the int64 one):
     * creating them anew at every apply was a good part of its cost. */
    em_tensor *one_step; /* int64 1 */
    em_tensor *one, *base_lr, *beta1_scalar, *beta2_scalar;

    em__optim_slot *slots; /* open addressing, capacity a power of two */
    int64_t nslots, capslots;
};

/* The step count as a host integer (its current value). */
int64_t em__optim_steps(const em_optimizer *opt);

/* The learning rate of the update at the current step, as a float64
 * scalar in the current scope (or the optimiser's own base_lr, not to be
 * freed); computed with ops from the step count for the built-in
 * schedules. NULL with an error. */
em_tensor *em__optim_rate(const em_optimizer *opt);

#endif
