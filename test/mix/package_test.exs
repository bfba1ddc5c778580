defmodule WasmexInterp.PackageTest do
  # The package builds from exactly the files mix.exs publishes: copied into an empty
  # directory, its Rust crates checked by cargo and its Elixir code compiled and run.
  # Slow (a `mix compile` of the copy and a cargo check of its two crates: about 20 s), so
  # it runs in scripts/test, not by default. Cargo's dependencies come from this
  # project's target/ (CARGO_TARGET_DIR).
  use ExUnit.Case, async: true

  @moduletag :tmp_dir
  @moduletag :slow
  @moduletag timeout: 900_000

  test "the package's files build and run", %{tmp_dir: tmp} do
    package = WasmexInterp.Package.copy!(Path.join(tmp, "wasmex_interp"))
    root = Path.dirname(Mix.Project.project_file())
    target_dir = System.get_env("CARGO_TARGET_DIR", Path.join(root, "target"))

    # Cargo reads every manifest of the workspace and every source file of the crates it
    # checks, as a build does: a missing one fails the check as it would fail `mix
    # compile`. A check of the dev profile reuses the dependencies that clippy checked,
    # where a release build of the copy would optimise and link the NIF again.
    {output, status} =
      System.cmd("cargo", ["check", "--locked", "-p", "wasmex_interp"],
        cd: package,
        env: [{"CARGO_TARGET_DIR", target_dir}],
        stderr_to_stdout: true
      )

    assert status == 0, output
    assert output =~ "Checking wasmex_interp"

    # The Elixir side, with the NIF of this build: the copy compiles, loads it and runs a
    # guest. (`mix compile` builds the NIF from source itself in scripts/test.)
    env = [
      {"MIX_ENV", "prod"},
      {"WASMEX_INTERP_BUILD", nil},
      {"WASMEX_INTERP_PRECOMPILED_URL", nil},
      {"WASMEX_INTERP_NIF_PATH",
       Application.app_dir(:wasmex_interp, "priv/native/libwasmex_interp.so")}
    ]

    {output, status} = WasmexInterp.Package.run_add(package, env)
    assert status == 0, output
    assert output =~ "Using the prebuilt NIF"
    assert output =~ "add: {:ok, [5]}"
    refute output =~ "warning"
  end
end
