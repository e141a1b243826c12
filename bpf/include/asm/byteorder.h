/* SPDX-License-Identifier: Apache-2.0 */
/* Architecture shim: the BPF target here is always little endian (bpfel). */
#include <linux/byteorder/little_endian.h>
