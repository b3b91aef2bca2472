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
    int64_t updates;     /* of this variable, for Adam's bias correction */
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
    int64_t steps;

    em__optim_slot *slots; /* open addressing, capacity a power of two */
    int64_t nslots, capslots;
};

#endif
