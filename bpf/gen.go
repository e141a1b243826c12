package bpf

// The generated bindings (lxc_bpfel.go, lxc_bpfel.o) are committed; CI
// regenerates them with `go generate ./bpf/...` and fails on a diff.
//go:generate go tool bpf2go -cc clang-19 -strip llvm-strip-19 -target bpfel -type ipv4_ct_tuple -type ct_entry -type endpoint_key -type endpoint_info -type flow_event -type lb4_key -type lb4_service -type lb4_backend -type lb4_reverse_nat -type lb4_affinity_key -type lb_affinity_val -type lb4_maglev lxc bpf_lxc.c -- -mcpu=v3 -Wall -Werror -I./include
//go:generate go tool bpf2go -cc clang-19 -strip llvm-strip-19 -target bpfel host bpf_host.c -- -mcpu=v3 -Wall -Werror -I./include
