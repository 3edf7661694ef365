# The browser client's rustc flags, shared by scripts/build-client.sh and scripts/size-report.sh:
# the standard library is rebuilt for size (-Zbuild-std) with panics aborting at once (no
# formatting, no unwinding code), and no source locations nor Debug output kept (none is shown
# to users). Measured in docs/ARCHITECTURE.md.
CLIENT_RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none -Zfmt-debug=none"
