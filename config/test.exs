import Config

# `WASMEX_INTERP_COMPAT=wasmex` builds the tests in Wasmex compatibility mode (see
# docs/compat.md). Give such a build its own build path, so that the two modes do not
# recompile each other: scripts/test and scripts/wasmex-tests use `_build/test_compat`.
if System.get_env("WASMEX_INTERP_COMPAT") == "wasmex" do
  config :wasmex_interp, compat: :wasmex
end
