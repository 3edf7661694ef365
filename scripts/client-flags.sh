# The browser client's rustc flags, shared by scripts/build-client.sh and scripts/size-report.sh:
# the standard library is rebuilt for size (-Zbuild-std) with panics aborting at once (no
# formatting, no unwinding code), and no source locations nor Debug output kept (none is shown
# to users). Measured in docs/ARCHITECTURE.md.
CLIENT_RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none -Zfmt-debug=none"
# wasm-opt's passes for the client, shared the same way: -Oz, told two facts of a Rust module
# so that constant address parts fold into load/store offsets: its own memory starts
# zero-filled, and nothing lives below address 1024 (the stack, first in memory, reaches it
# only on an overflow of its 1 MB). -211 B gzip (docs/ARCHITECTURE.md). Then the functions are
# ordered by their (Rust path) names, which puts each module's code together for gzip's window:
# -119 B gzip.
CLIENT_WASM_OPT_FLAGS="--low-memory-unused --zero-filled-memory -Oz --converge --reorder-functions-by-name
    --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals
    --enable-reference-types --enable-multivalue --strip-producers"
