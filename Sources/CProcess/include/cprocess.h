#pragma once
// Process-level knobs Swift's Glibc module does not expose (malloc.h).

/// Fixes glibc's mmap threshold (bytes) and caps its malloc arenas; returns 1 on success.
int m2d_tune_malloc(int mmap_threshold, int arena_max);

/// Serves every allocation from the heap and never trims it, so memory freed by one training step
/// is reused by the next without page faults (RSS stays at its peak); returns 1 on success.
int m2d_keep_freed_memory(void);
