/* SPDX-License-Identifier: Apache-2.0 */
/* Architecture shim: BPF has no asm/ of its own; the generic one matches bpfel. */
#include <asm-generic/types.h>
