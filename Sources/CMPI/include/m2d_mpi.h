// A small shim over Open MPI for m2d-train's data-parallel pre-training (docs/DATA-PARALLEL.md). Only the
// m2d-train executable links it. Built without Open MPI's headers (Debian libopenmpi-dev), m2d_mpi_built()
// is 0 and the other calls must not be made.
#ifndef M2D_MPI_H
#define M2D_MPI_H
#include <stddef.h>
#include <stdint.h>

/// 1 when compiled against Open MPI.
int m2d_mpi_built(void);
/// MPI_Init; the rank and the number of ranks of MPI_COMM_WORLD. Errors abort the whole job with a message.
void m2d_mpi_init(int *rank, int *size);
void m2d_mpi_sum_float(float *values, size_t count);
void m2d_mpi_sum_double(double *values, size_t count);
void m2d_mpi_broadcast(void *bytes, size_t count, int root);
/// Every rank's `count` values into `out` (size x count), rank-major.
void m2d_mpi_gather_u64(const uint64_t *values, uint64_t *out, size_t count);
/// Stops every rank of the job (exit status `code`).
void m2d_mpi_abort(int code);
void m2d_mpi_finalize(void);

#endif
