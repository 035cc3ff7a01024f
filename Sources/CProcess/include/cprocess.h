#pragma once
// Process-level knobs Swift's Glibc module does not expose (malloc.h).

/// Fixes glibc's mmap threshold (bytes) and caps its malloc arenas; returns 1 on success.
int m2d_tune_malloc(int mmap_threshold, int arena_max);
