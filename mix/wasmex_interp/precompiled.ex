defmodule WasmexInterp.Build.Precompiled do
  @moduledoc """
  Precompiled NIFs, the way rustler_precompiled ships them: one archive per Rust target,
  named `libwasmex_interp-v<version>-nif-<nif version>-<triple>.so.tar.gz`, published
  under a base URL, and a checksum file committed with the package
  (`checksum-Elixir.Wasmex.Native.exs`, the SHA-256 of each archive).

  `fetch!/4` downloads the archive for a target with OTP's `:httpc` (TLS verified against
  the operating system's CA certificates), checks it against the checksum file, keeps it
  in the user cache directory and returns the library in it. `package!/3` writes the
  archives and the checksum file (`scripts/release-nifs`).
  """

  @checksum_file "checksum-Elixir.Wasmex.Native.exs"
  @library "libwasmex_interp"

  @doc """
  The base URL to download precompiled NIFs from: `WASMEX_INTERP_PRECOMPILED_URL` in
  `env`, else `config :wasmex_interp, precompiled_url: ...`; `nil` when neither is set.
  """
  @spec base_url(%{optional(String.t()) => String.t()}) :: String.t() | nil
  def base_url(env) do
    case env["WASMEX_INTERP_PRECOMPILED_URL"] do
      url when url in [nil, ""] -> Application.get_env(:wasmex_interp, :precompiled_url)
      url -> url
    end
  end

  @doc """
  The NIF version the crate is built for: the `nif_version_X_Y` feature of rustler in
  `Cargo.toml` (in `root`). A library built for it loads on that NIF version and later.
  """
  @spec nif_version(Path.t()) :: String.t()
  def nif_version(root \\ File.cwd!()) do
    manifest = File.read!(Path.join(root, "Cargo.toml"))
    [_, major, minor] = Regex.run(~r/"nif_version_(\d+)_(\d+)"/, manifest)
    "#{major}.#{minor}"
  end

  @doc """
  The archive name of the library for `triple`, as rustler_precompiled names it.

      iex> WasmexInterp.Build.Precompiled.archive_name("0.1.0", "2.15", "aarch64-unknown-linux-gnu")
      "libwasmex_interp-v0.1.0-nif-2.15-aarch64-unknown-linux-gnu.so.tar.gz"
  """
  @spec archive_name(String.t(), String.t(), String.t()) :: String.t()
  def archive_name(version, nif_version, triple),
    do: "#{@library}-v#{version}-nif-#{nif_version}-#{triple}.so.tar.gz"

  @doc "The path of the checksum file in the package directory `root`."
  @spec checksum_file(Path.t()) :: Path.t()
  def checksum_file(root \\ File.cwd!()), do: Path.join(root, @checksum_file)

  @doc """
  Reads a checksum file: a map of archive names to `"sha256:<hex>"`. The file is parsed,
  not evaluated, and must hold nothing but that map.
  """
  @spec read_checksums(Path.t()) :: {:ok, %{String.t() => String.t()}} | {:error, String.t()}
  def read_checksums(path) do
    with {:ok, text} <- File.read(path),
         {:ok, {:%{}, _, pairs}} <- Code.string_to_quoted(text),
         true <- Enum.all?(pairs, &match?({name, "sha256:" <> _} when is_binary(name), &1)) do
      {:ok, Map.new(pairs)}
    else
      {:error, reason} when is_atom(reason) -> {:error, "#{path}: #{:file.format_error(reason)}"}
      _ -> {:error, "#{path} is not a map of archive names to \"sha256:...\" checksums"}
    end
  end

  @doc "The SHA-256 of `data`, as the checksum file writes it."
  @spec checksum(iodata()) :: String.t()
  def checksum(data), do: "sha256:" <> Base.encode16(:crypto.hash(:sha256, data), case: :lower)

  @doc """
  The directory downloaded archives are kept in: `WASMEX_INTERP_CACHE_DIR`, or
  `wasmex_interp` in the user cache directory (`~/.cache/wasmex_interp` on Linux).
  """
  @spec cache_dir(%{optional(String.t()) => String.t()}) :: Path.t()
  def cache_dir(env) do
    case env["WASMEX_INTERP_CACHE_DIR"] do
      dir when dir in [nil, ""] -> :filename.basedir(:user_cache, "wasmex_interp")
      dir -> dir
    end
  end

  @doc """
  Returns the library for the archive `name` from `base_url`: from the cache directory
  when a verified copy is there, else downloaded, checked against `checksums` and then
  cached. Raises with the file and the fix when the checksum file does not list the
  archive, the download fails, or the archive's checksum is wrong.
  """
  @spec fetch!(String.t(), String.t(), %{String.t() => String.t()}, Path.t()) :: binary()
  def fetch!(base_url, name, checksums, cache_dir) do
    expected = Map.get(checksums, name) || raise_unlisted(name, checksums)
    cached = Path.join(cache_dir, name)

    archive =
      case File.read(cached) do
        {:ok, data} ->
          if checksum(data) == expected,
            do: data,
            else: download!(base_url, name, expected, cached)

        {:error, _} ->
          download!(base_url, name, expected, cached)
      end

    extract!(archive, name)
  end

  defp download!(base_url, name, expected, cached) do
    url = String.trim_trailing(base_url, "/") <> "/" <> name
    Mix.shell().info("Downloading the precompiled NIF #{url}")

    data =
      case download(url) do
        {:ok, data} ->
          data

        {:error, reason} ->
          Mix.raise("""
          could not download the precompiled wasmex_interp NIF #{name}
          from #{url}: #{reason}.
          Check WASMEX_INTERP_PRECOMPILED_URL (or `config :wasmex_interp, precompiled_url:`):
          it must be the address of the directory holding the archives of this version.
          Or build from source (Rust #{rust_version()} or newer) with WASMEX_INTERP_BUILD=1.
          """)
      end

    case checksum(data) do
      ^expected ->
        File.mkdir_p!(cache_dir = Path.dirname(cached))
        tmp = Path.join(cache_dir, ".#{name}.#{System.unique_integer([:positive])}")
        File.write!(tmp, data)
        File.rename!(tmp, cached)
        data

      actual ->
        Mix.raise("""
        the precompiled wasmex_interp NIF #{name} downloaded from #{url}
        has checksum #{actual}, but #{@checksum_file} expects #{expected}.
        It was not installed: the file was changed, corrupted, or is for another release.
        Check that WASMEX_INTERP_PRECOMPILED_URL serves the archives of this version
        unchanged, or build from source (Rust #{rust_version()} or newer) with
        WASMEX_INTERP_BUILD=1.
        """)
    end
  end

  defp raise_unlisted(name, checksums) do
    published =
      case Map.keys(checksums) do
        [] -> "none"
        names -> Enum.map_join(Enum.sort(names), "", &"\n  #{&1}")
      end

    Mix.raise("""
    there is no precompiled wasmex_interp NIF #{name}: #{@checksum_file} does not list it.
    Published for this version: #{published}
    Build from source instead (Rust #{rust_version()} or newer) with WASMEX_INTERP_BUILD=1,
    or pick a listed target with WASMEX_INTERP_TARGET=<triple>.
    """)
  end

  defp rust_version, do: WasmexInterp.Build.Cargo.rust_version()

  @doc """
  Downloads `url` with OTP's `:httpc`; an https URL is verified against the operating
  system's CA certificates (`:public_key.cacerts_get/0`, OTP 25 and later; on older OTP,
  the file named by `WASMEX_INTERP_CACERTFILE` or the system bundle). `HTTP_PROXY` and
  `HTTPS_PROXY` are honoured.
  """
  @spec download(String.t()) :: {:ok, binary()} | {:error, String.t()}
  def download(url) do
    {:ok, _} = Application.ensure_all_started(:inets)
    {:ok, _} = Application.ensure_all_started(:ssl)
    set_proxy(url)
    http_options = [ssl: ssl_options(), connect_timeout: 15_000, timeout: 120_000]
    request = {String.to_charlist(url), [{~c"user-agent", ~c"wasmex_interp"}]}

    case :httpc.request(:get, request, http_options, body_format: :binary) do
      {:ok, {{_, 200, _}, _headers, body}} -> {:ok, body}
      {:ok, {{_, status, reason}, _headers, _body}} -> {:error, "HTTP #{status} #{reason}"}
      {:error, reason} -> {:error, describe(reason)}
    end
  end

  defp describe({:failed_connect, [_, {_inet, _, reason}]}),
    do: "cannot connect (#{inspect(reason)})"

  defp describe({:failed_connect, _} = reason), do: "cannot connect (#{inspect(reason)})"
  defp describe(reason), do: inspect(reason)

  defp ssl_options do
    [
      verify: :verify_peer,
      depth: 4,
      # A refused certificate is reported in the compile error, not logged as well.
      log_level: :error,
      customize_hostname_check: [match_fun: :public_key.pkix_verify_hostname_match_fun(:https)]
    ] ++ ca_options()
  end

  defp ca_options do
    file = System.get_env("WASMEX_INTERP_CACERTFILE")

    cond do
      file not in [nil, ""] ->
        [cacertfile: file]

      function_exported?(:public_key, :cacerts_get, 0) ->
        [cacerts: apply(:public_key, :cacerts_get, [])]

      true ->
        [cacertfile: "/etc/ssl/certs/ca-certificates.crt"]
    end
  end

  defp set_proxy(url) do
    scheme = if String.starts_with?(url, "https:"), do: :https_proxy, else: :proxy
    variable = if scheme == :https_proxy, do: "HTTPS_PROXY", else: "HTTP_PROXY"
    proxy = System.get_env(variable) || System.get_env(String.downcase(variable))

    with proxy when proxy not in [nil, ""] <- proxy,
         %URI{host: host, port: port} when is_binary(host) <- URI.parse(proxy) do
      :httpc.set_options([{scheme, {{String.to_charlist(host), port}, [~c"localhost"]}}])
    end
  end

  @doc """
  The library in the archive `data` (named `name`): its one member, named as the archive
  without `.tar.gz`.
  """
  @spec extract!(binary(), String.t()) :: binary()
  def extract!(data, name) do
    member = String.to_charlist(Path.basename(name, ".tar.gz"))

    case :erl_tar.extract({:binary, data}, [:memory, :compressed, {:files, [member]}]) do
      {:ok, [{^member, library}]} -> library
      other -> Mix.raise("#{name} does not hold #{member}: #{inspect(other)}")
    end
  end

  @doc """
  Writes, into `outdir`, an archive for each `{triple, library_path}` and the checksum
  file listing all of them, for `version` and `nif_version`. Archives are reproducible:
  the same library gives the same archive. Returns `[{archive, checksum, bytes}]`.
  """
  @spec package!(Path.t(), {String.t(), String.t()}, [{String.t(), Path.t()}]) ::
          [{String.t(), String.t(), non_neg_integer()}]
  def package!(outdir, {version, nif_version}, libraries) do
    File.mkdir_p!(outdir)

    written =
      for {triple, library} <- libraries do
        name = archive_name(version, nif_version, triple)
        path = Path.join(outdir, name)
        File.rm(path)
        {:ok, tar} = :erl_tar.open(String.to_charlist(path), [:write, :compressed])
        member = String.to_charlist(Path.basename(name, ".tar.gz"))

        :ok =
          :erl_tar.add(tar, File.read!(library), member,
            mtime: 0,
            atime: 0,
            ctime: 0,
            uid: 0,
            gid: 0
          )

        :ok = :erl_tar.close(tar)
        data = File.read!(path)
        {name, checksum(data), byte_size(data)}
      end

    lines =
      Enum.map(Enum.sort(written), fn {name, sum, _} ->
        "  #{inspect(name)} => #{inspect(sum)},\n"
      end)

    File.write!(Path.join(outdir, @checksum_file), ["%{\n", lines, "}\n"])
    written
  end
end
