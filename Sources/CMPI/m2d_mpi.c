// Open MPI calls for m2d-train. MPI_ERRORS_ARE_FATAL (the default) stays: a failed collective or a dead peer
// ends every rank with Open MPI's message instead of leaving the others blocked.
#include "m2d_mpi.h"

#if defined(M2D_HAVE_MPI)
#include <limits.h>
#include <mpi.h>
#include <stdio.h>

int m2d_mpi_built(void) { return 1; }

void m2d_mpi_init(int *rank, int *size) {
    int initialized = 0, provided = 0;
    MPI_Initialized(&initialized);
    // Every call comes from one serial queue, whose thread may change between calls: SERIALIZED.
    if (!initialized) MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &provided);
    if (initialized == 0 && provided < MPI_THREAD_SERIALIZED) {
        fprintf(stderr, "m2d-train: this Open MPI gives thread level %d, needs MPI_THREAD_SERIALIZED\n", provided);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, size);
}

// MPI counts are int: large buffers go in pieces.
static void sum_pieces(void *values, size_t count, MPI_Datatype type, size_t width) {
    char *at = values;
    while (count > 0) {
        int piece = count > (size_t)INT_MAX ? INT_MAX : (int)count;
        MPI_Allreduce(MPI_IN_PLACE, at, piece, type, MPI_SUM, MPI_COMM_WORLD);
        at += (size_t)piece * width;
        count -= (size_t)piece;
    }
}

void m2d_mpi_sum_float(float *values, size_t count) { sum_pieces(values, count, MPI_FLOAT, sizeof(float)); }
void m2d_mpi_sum_double(double *values, size_t count) { sum_pieces(values, count, MPI_DOUBLE, sizeof(double)); }

void m2d_mpi_broadcast(void *bytes, size_t count, int root) {
    char *at = bytes;
    while (count > 0) {
        int piece = count > (size_t)INT_MAX ? INT_MAX : (int)count;
        MPI_Bcast(at, piece, MPI_BYTE, root, MPI_COMM_WORLD);
        at += piece;
        count -= (size_t)piece;
    }
}

void m2d_mpi_gather_u64(const uint64_t *values, uint64_t *out, size_t count) {
    MPI_Allgather(values, (int)count, MPI_UINT64_T, out, (int)count, MPI_UINT64_T, MPI_COMM_WORLD);
}

void m2d_mpi_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }
void m2d_mpi_finalize(void) { MPI_Finalize(); }
#else
#include <stdlib.h>
int m2d_mpi_built(void) { return 0; }
void m2d_mpi_init(int *rank, int *size) { *rank = 0; *size = 1; }
void m2d_mpi_sum_float(float *values, size_t count) { (void)values; (void)count; abort(); }
void m2d_mpi_sum_double(double *values, size_t count) { (void)values; (void)count; abort(); }
void m2d_mpi_broadcast(void *bytes, size_t count, int root) { (void)bytes; (void)count; (void)root; abort(); }
void m2d_mpi_gather_u64(const uint64_t *values, uint64_t *out, size_t count) {
    (void)values; (void)out; (void)count; abort();
}
void m2d_mpi_abort(int code) { exit(code); }
void m2d_mpi_finalize(void) {}
#endif
