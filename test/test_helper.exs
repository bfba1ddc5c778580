# Slow and scheduler-sensitive tests are tagged :slow; scripts/test includes them.
# test/compat/doctests_test.exs only runs in Wasmex compatibility mode (see config/test.exs).
compat_doctests = Application.get_env(:wasmex_interp, :compat) != :wasmex
ExUnit.start(exclude: [:slow] ++ if(compat_doctests, do: [:compat_doctests], else: []))
