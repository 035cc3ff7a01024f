// The thread team: one set of threads for every parallel step of a forward, so the steps of a layer
// (tens per block) cost a wake-up each, not a thread pool's fork and join. Workers spin on the step
// counter for a short while (the next step usually follows within microseconds), then sleep on a
// futex; the caller runs share 0 itself and waits for the others' count to reach zero.
#include "m2d_kernels.h"

#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { MAX_THREADS = 64, SPINS = 20000 };

struct m2d_team {
    int threads;
    _Atomic uint32_t step;     // bumped once per run; workers wait for it to move
    _Atomic int pending;       // workers still inside the current step
    _Atomic int stopping;
    _Atomic int sleepers;      // workers inside futex_wait (the caller wakes only when there are some)
    m2d_task task;
    void *context;
    pthread_t workers[MAX_THREADS];
    struct { m2d_team *team; int index; } args[MAX_THREADS];
};

static void futex_wait(_Atomic uint32_t *word, uint32_t value) {
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, value, NULL, NULL, 0);
}

static void futex_wake_all(_Atomic uint32_t *word) {
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, MAX_THREADS, NULL, NULL, 0);
}

static inline void relax(void) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#endif
}

static void *worker(void *raw) {
    m2d_team *team = ((struct { m2d_team *team; int index; } *)raw)->team;
    int index = ((struct { m2d_team *team; int index; } *)raw)->index;
    // The step count at creation, not at this thread's start: a run may begin before the thread does.
    uint32_t seen = 0;
    for (;;) {
        uint32_t now;
        int spins = 0;
        while ((now = atomic_load_explicit(&team->step, memory_order_acquire)) == seen) {
            if (++spins < SPINS) {
                relax();
            } else {
                atomic_fetch_add(&team->sleepers, 1);
                futex_wait(&team->step, seen);  // returns at once if the step has moved since `seen`
                atomic_fetch_sub(&team->sleepers, 1);
            }
        }
        seen = now;
        if (atomic_load_explicit(&team->stopping, memory_order_acquire)) return NULL;
        team->task(team->context, index, team->threads);
        atomic_fetch_sub_explicit(&team->pending, 1, memory_order_acq_rel);
    }
}

m2d_team *m2d_team_create(int threads) {
    if (threads < 1) threads = 1;
    if (threads > MAX_THREADS) threads = MAX_THREADS;
    m2d_team *team = calloc(1, sizeof *team);
    if (!team) return NULL;
    team->threads = threads;
    for (int i = 1; i < threads; i++) {
        team->args[i].team = team;
        team->args[i].index = i;
        if (pthread_create(&team->workers[i], NULL, worker, &team->args[i]) != 0) {
            team->threads = i;
            m2d_team_destroy(team);
            return NULL;
        }
    }
    return team;
}

void m2d_team_destroy(m2d_team *team) {
    if (!team) return;
    atomic_store_explicit(&team->stopping, 1, memory_order_release);
    atomic_fetch_add_explicit(&team->step, 1, memory_order_acq_rel);
    futex_wake_all(&team->step);
    for (int i = 1; i < team->threads; i++) pthread_join(team->workers[i], NULL);
    free(team);
}

int m2d_team_size(const m2d_team *team) { return team ? team->threads : 1; }

void m2d_team_run(m2d_team *team, m2d_task task, void *context) {
    if (!team || team->threads == 1) {
        task(context, 0, 1);
        return;
    }
    team->task = task;
    team->context = context;
    atomic_store_explicit(&team->pending, team->threads - 1, memory_order_release);
    atomic_fetch_add(&team->step, 1);
    if (atomic_load(&team->sleepers) > 0) futex_wake_all(&team->step);
    task(context, 0, team->threads);
    while (atomic_load_explicit(&team->pending, memory_order_acquire) > 0) relax();
}
