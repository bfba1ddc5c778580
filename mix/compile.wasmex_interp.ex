defmodule Mix.Tasks.Compile.WasmexInterp do
  @shortdoc "Installs the wasmex_interp NIF: precompiled, prebuilt, or built with cargo"
  @moduledoc """
  Puts the NIF (`libwasmex_interp.so`) into `priv/native/` of the application in the
  build directory (`_build/<env>/lib/wasmex_interp`, `_build/<target>_<env>/...` for a
  Nerves target). Each build directory has its own: the library built for a board never
  replaces the host's, and a release carries the one of its target.

  This replaces rustler's and rustler_precompiled's Mix packages, which need hex. The
  library comes, in this order, from:

    1. `WASMEX_INTERP_NIF_PATH`: a library built elsewhere, copied in (only at compile
       time: a release loads the copy it carries).
    2. A source build with cargo when `WASMEX_INTERP_BUILD=1` (see
       `WasmexInterp.Build.Cargo`).
    3. A precompiled archive when a base URL is set (`WASMEX_INTERP_PRECOMPILED_URL`, or
       `config :wasmex_interp, precompiled_url: "..."`): downloaded, checked against
       `checksum-Elixir.Wasmex.Native.exs`, cached (see `WasmexInterp.Build.Precompiled`).
       No Rust is needed.
    4. Otherwise, a source build with cargo (at least the `rust-version` of `Cargo.toml`).

  Nothing is done when the installed library already came from the same place and, for
  a source build, is newer than every Rust source.

  ## Environment

    * `WASMEX_INTERP_PRECOMPILED_URL` - where the precompiled archives are published.
    * `WASMEX_INTERP_BUILD` - `1` to build from source even when a URL is set.
    * `WASMEX_INTERP_NIF_PATH` - install this library instead.
    * `WASMEX_INTERP_TARGET` - the Rust target triple to build or fetch for.
    * `WASMEX_INTERP_CACHE_DIR` - where downloads are kept (default: the user cache dir).
    * `WASMEX_INTERP_LIBATOMIC` - `0` to not link libatomic on 32-bit ARM.
    * `CARGO` - the cargo executable (default `cargo`); `CARGO_TARGET_DIR` as for cargo.

  ## Cross-compiling, and Nerves

  When `TARGET_ARCH` is set, as Nerves sets it for a `MIX_TARGET` other than `host` (with
  `TARGET_CPU`, `TARGET_OS`, `TARGET_ABI` and `CC`), the NIF is fetched or built for the
  matching Rust target (`WasmexInterp.Build.Target.rust_target/1`); a source build links
  with `CC` unless `CARGO_TARGET_<TRIPLE>_LINKER` names a linker, and needs the target's
  Rust standard library (`rustup target add <triple>`).
  """
  use Mix.Task.Compiler

  alias WasmexInterp.Build.{Cargo, Precompiled, Target}

  @library "libwasmex_interp.so"
  # Where the installed library came from, to know when it is up to date.
  @stamp "libwasmex_interp.source"

  @impl true
  def run(_args) do
    env = System.get_env()
    target = Target.rust_target(env)
    dir = native_dir!()
    remove_legacy_files()

    result =
      case source(env) do
        {:prebuilt, path} -> install_prebuilt(dir, path)
        {:precompiled, url} -> install_precompiled(dir, url, target || Target.host(), env)
        :cargo -> install_built(dir, target)
      end

    # Compiling Wasmex.Native loads it, and with it the library: a cross build's library
    # cannot load here, and Wasmex.Native must not warn about it (see its load_nif/0).
    unless Target.native?(target) do
      :persistent_term.put({Wasmex.Native, :cross_build}, target)
    end

    result
  end

  @impl true
  def clean do
    File.rm_rf(Path.join(Mix.Project.app_path(), "priv/native"))
    :ok
  end

  defp source(env) do
    url = Precompiled.base_url(env)

    cond do
      env["WASMEX_INTERP_NIF_PATH"] not in [nil, ""] -> {:prebuilt, env["WASMEX_INTERP_NIF_PATH"]}
      env["WASMEX_INTERP_BUILD"] in ["1", "true"] -> :cargo
      url not in [nil, ""] -> {:precompiled, url}
      true -> :cargo
    end
  end

  defp install_prebuilt(dir, path) do
    unless File.regular?(path) do
      Mix.raise("WASMEX_INTERP_NIF_PATH is #{path}, which is not a file")
    end

    if File.read(Path.join(dir, @library)) == File.read(path) do
      {:noop, []}
    else
      Mix.shell().info("Using the prebuilt NIF #{path}")
      install(dir, File.read!(path), "prebuilt #{path}")
    end
  end

  defp install_precompiled(dir, url, triple, env) do
    root = File.cwd!()
    version = Mix.Project.config()[:version]
    name = Precompiled.archive_name(version, Precompiled.nif_version(root), triple)
    stamp = "precompiled #{name}"

    if installed?(dir, stamp) do
      {:noop, []}
    else
      checksums =
        case Precompiled.read_checksums(Precompiled.checksum_file(root)) do
          {:ok, checksums} -> checksums
          {:error, reason} -> Mix.raise("cannot use precompiled NIFs: #{reason}")
        end

      library = Precompiled.fetch!(url, name, checksums, Precompiled.cache_dir(env))
      install(dir, library, stamp)
    end
  end

  defp install_built(dir, target) do
    stamp = "cargo #{target || "host"}"

    if installed?(dir, stamp) and up_to_date?(Path.join(dir, @library)) do
      {:noop, []}
    else
      install(dir, File.read!(Cargo.build!(target)), stamp)
    end
  end

  defp installed?(dir, stamp) do
    File.read(Path.join(dir, @stamp)) == {:ok, stamp} and File.exists?(Path.join(dir, @library))
  end

  defp up_to_date?(library) do
    {:ok, %{mtime: built}} = File.stat(library, time: :posix)
    Enum.all?(Cargo.sources(), &(mtime(&1) <= built))
  end

  defp mtime(path) do
    case File.stat(path, time: :posix) do
      {:ok, %{mtime: mtime}} -> mtime
      {:error, _} -> 0
    end
  end

  defp install(dir, library, stamp) do
    target = Path.join(dir, @library)
    # Write a new file and rename it: a running BEAM may have the old library mapped.
    File.write!(target <> ".tmp", library)
    File.rename!(target <> ".tmp", target)
    File.write!(Path.join(dir, @stamp), stamp)
    {:ok, []}
  end

  # priv/ in the build directory is a link to the package's own priv/ when the package
  # has one (Mix links it, or copies it with `build_embedded: true`). The library must
  # not go there, where every build directory would share it: make the link a directory
  # of its own (Mix then copies the package's priv/ into it instead).
  defp native_dir! do
    priv = Path.join(Mix.Project.app_path(), "priv")

    case File.read_link(priv) do
      {:ok, _} ->
        linked = Path.expand(File.read_link!(priv), Path.dirname(priv))
        File.rm!(priv)
        File.mkdir_p!(priv)
        if File.dir?(linked), do: File.cp_r!(linked, priv)
        File.rm_rf!(Path.join(priv, "native"))

      {:error, _} ->
        :ok
    end

    dir = Path.join(priv, "native")
    File.mkdir_p!(dir)
    dir
  end

  # Versions before one-NIF-per-build-directory kept the library in the package's own
  # priv/native/, shared by every MIX_TARGET; Mix would keep copying that stale file.
  defp remove_legacy_files do
    for file <- ~w(libwasmex_interp.so libwasmex_interp.target),
        do: File.rm(Path.join("priv/native", file))

    File.rmdir("priv/native")
    File.rmdir("priv")
  end
end
