defmodule WasmexInterp.Build.PrecompiledTest do
  # Precompiled NIFs end to end: archives made from the NIF this suite runs on, served by
  # OTP's own httpd on loopback, fetched by the compile step of a fresh application that
  # depends on a copy of the package, with no cargo on PATH.
  use ExUnit.Case, async: true

  alias WasmexInterp.Build.{Precompiled, Target}

  @moduletag :tmp_dir

  defp library, do: Application.app_dir(:wasmex_interp, "priv/native/libwasmex_interp.so")

  defp release, do: {Mix.Project.config()[:version], Precompiled.nif_version()}

  # Archives of the built NIF for this machine, as scripts/release-nifs writes them.
  defp publish(dir) do
    [{name, checksum, _bytes}] =
      Precompiled.package!(dir, release(), [{Target.host(), library()}])

    {name, checksum}
  end

  defp serve(dir, extra \\ []) do
    {:ok, _} = Application.ensure_all_started(:inets)

    {:ok, pid} =
      :inets.start(
        :httpd,
        [
          port: 0,
          bind_address: {127, 0, 0, 1},
          server_name: ~c"localhost",
          server_root: String.to_charlist(dir),
          document_root: String.to_charlist(dir)
        ] ++ extra
      )

    on_exit(fn -> :inets.stop(:httpd, pid) end)
    :httpd.info(pid)[:port]
  end

  # Precompiled.fetch!/4, with its "Downloading ..." line kept out of the test output.
  defp fetch!(url, name, checksums, cache) do
    {library, _output} =
      ExUnit.CaptureIO.with_io(fn -> Precompiled.fetch!(url, name, checksums, cache) end)

    library
  end

  defp checksums(dir) do
    {:ok, checksums} =
      Precompiled.read_checksums(Path.join(dir, "checksum-Elixir.Wasmex.Native.exs"))

    checksums
  end

  test "a fresh application installs the NIF from a URL, with no cargo on PATH", %{tmp_dir: tmp} do
    served = Path.join(tmp, "served")
    {name, _} = publish(served)
    port = serve(served)

    # The package as published (its files: list), with the checksum file of this release.
    package = Path.join(tmp, "wasmex_interp")
    WasmexInterp.Package.copy!(package)

    File.cp!(
      Path.join(served, "checksum-Elixir.Wasmex.Native.exs"),
      Path.join(package, "checksum-Elixir.Wasmex.Native.exs")
    )

    # A stale library where earlier versions kept it, shared by every build directory: Mix
    # links the build's priv/ to it, and the compile step must undo that.
    File.mkdir_p!(Path.join(package, "priv/native"))
    File.write!(Path.join(package, "priv/native/libwasmex_interp.so"), "stale")

    app = Path.join(tmp, "my_app")
    File.mkdir_p!(app)

    # The URL from the application's config, as a user sets it.
    File.mkdir_p!(Path.join(app, "config"))

    File.write!(Path.join(app, "config/config.exs"), """
    import Config
    config :wasmex_interp, precompiled_url: "http://127.0.0.1:#{port}"
    """)

    File.write!(Path.join(app, "mix.exs"), """
    defmodule MyApp.MixProject do
      use Mix.Project
      def project, do: [app: :my_app, version: "0.1.0", deps: [{:wasmex_interp, path: "../wasmex_interp"}]]
    end
    """)

    path =
      System.get_env("PATH")
      |> String.split(":")
      |> Enum.reject(&File.exists?(Path.join(&1, "cargo")))
      |> Enum.join(":")

    env = [
      {"PATH", path},
      {"CARGO", nil},
      {"MIX_ENV", "dev"},
      {"WASMEX_INTERP_PRECOMPILED_URL", nil},
      {"WASMEX_INTERP_BUILD", nil},
      {"WASMEX_INTERP_NIF_PATH", nil},
      {"WASMEX_INTERP_CACHE_DIR", Path.join(tmp, "cache")}
    ]

    {output, status} = WasmexInterp.Package.run_add(app, env)
    assert status == 0, output
    assert output =~ "Downloading the precompiled NIF http://127.0.0.1:#{port}/#{name}"
    assert output =~ "add: {:ok, [5]}"
    refute output =~ "warning"

    assert File.read!(
             Path.join([app, "_build/dev/lib/wasmex_interp/priv/native/libwasmex_interp.so"])
           ) == File.read!(library())

    assert File.exists?(Path.join([tmp, "cache", name]))

    assert {:ok, %File.Stat{type: :directory}} =
             File.lstat(Path.join(app, "_build/dev/lib/wasmex_interp/priv"))

    refute File.exists?(Path.join(package, "priv"))

    # Installed: a second compile neither downloads nor builds.
    {output, 0} = System.cmd("mix", ["compile"], cd: app, env: env, stderr_to_stdout: true)
    refute output =~ "Downloading"
  end

  describe "fetch!/4 refuses" do
    test "a tampered archive, and keeps it out of the cache", %{tmp_dir: tmp} do
      served = Path.join(tmp, "served")
      {name, _} = publish(served)
      checksums = checksums(served)
      archive = Path.join(served, name)
      data = File.read!(archive)
      # One byte of the library changed, the archive made again: a valid archive.
      tampered = Path.join(tmp, "tampered.so")
      library = File.read!(library())

      <<head::binary-size(4096), byte, rest::binary>> = library
      File.write!(tampered, <<head::binary, Bitwise.bxor(byte, 1), rest::binary>>)

      Precompiled.package!(served, release(), [{Target.host(), tampered}])
      refute File.read!(archive) == data
      port = serve(served)
      cache = Path.join(tmp, "cache")

      error =
        assert_raise Mix.Error, fn ->
          fetch!("http://127.0.0.1:#{port}", name, checksums, cache)
        end

      assert error.message =~ "#{name} downloaded from http://127.0.0.1:#{port}/#{name}"
      assert error.message =~ "expects #{checksums[name]}"
      assert error.message =~ "WASMEX_INTERP_BUILD=1"
      refute File.exists?(Path.join(cache, name))

      # A tampered copy in the cache is not used either: the served one is fetched again.
      File.mkdir_p!(cache)
      File.write!(archive, data)
      File.write!(Path.join(cache, name), File.read!(Path.join(served, name)) <> "x")
      assert fetch!("http://127.0.0.1:#{port}", name, checksums, cache) == library
      assert File.read!(Path.join(cache, name)) == data
    end

    test "a missing archive, an unreachable URL and an unlisted target", %{tmp_dir: tmp} do
      served = Path.join(tmp, "served")
      {name, _} = publish(served)
      checksums = checksums(served)
      File.rm!(Path.join(served, name))
      port = serve(served)
      cache = Path.join(tmp, "cache")

      error =
        assert_raise Mix.Error, fn ->
          fetch!("http://127.0.0.1:#{port}/", name, checksums, cache)
        end

      assert error.message =~ "could not download the precompiled wasmex_interp NIF #{name}"
      assert error.message =~ "HTTP 404"
      assert error.message =~ "WASMEX_INTERP_PRECOMPILED_URL"

      # A port nothing listens on: one just closed.
      {:ok, socket} = :gen_tcp.listen(0, ip: {127, 0, 0, 1})
      {:ok, closed} = :inet.port(socket)
      :ok = :gen_tcp.close(socket)

      error =
        assert_raise Mix.Error, fn ->
          fetch!("http://127.0.0.1:#{closed}", name, checksums, cache)
        end

      assert error.message =~ "cannot connect"

      other = Precompiled.archive_name("0.1.0", "2.15", "sparc64-unknown-linux-gnu")

      error =
        assert_raise Mix.Error, fn ->
          fetch!("http://127.0.0.1:#{port}", other, checksums, cache)
        end

      assert error.message =~ "no precompiled wasmex_interp NIF #{other}"
      assert error.message =~ name
      assert error.message =~ "WASMEX_INTERP_BUILD=1"
    end

    test "an https server whose certificate the system does not trust", %{tmp_dir: tmp} do
      {:ok, _} = Application.ensure_all_started(:ssl)
      key = [key: {:namedCurve, :secp256r1}]
      # A certificate for localhost (subjectAltName DNS:localhost), signed by a new root.
      localhost = [extensions: [{:Extension, {2, 5, 29, 17}, false, [dNSName: ~c"localhost"]}]]
      chain = %{root: key, intermediates: [], peer: key ++ localhost}

      %{server_config: server} =
        :public_key.pkix_test_data(%{server_chain: chain, client_chain: %{chain | peer: key}})

      served = Path.join(tmp, "served")
      {name, _} = publish(served)
      port = serve(served, socket_type: {:ssl, [log_level: :error] ++ server})

      assert {:error, reason} = Precompiled.download("https://localhost:#{port}/#{name}")
      assert reason =~ ~r/unknown_ca|Unknown CA/i

      # Trusted once its root is given: verification, not a broken server, refused it.
      [_peer, root] = server[:cacerts]
      cafile = Path.join(tmp, "ca.pem")
      File.write!(cafile, :public_key.pem_encode([{:Certificate, root, :not_encrypted}]))

      assert {:ok, _} =
               with_env("WASMEX_INTERP_CACERTFILE", cafile, fn ->
                 Precompiled.download("https://localhost:#{port}/#{name}")
               end)
    end
  end

  test "the URL comes from WASMEX_INTERP_PRECOMPILED_URL, else from the config" do
    assert Precompiled.base_url(%{"WASMEX_INTERP_PRECOMPILED_URL" => "http://a"}) == "http://a"
    # Not set in this project's config.
    assert Precompiled.base_url(%{"WASMEX_INTERP_PRECOMPILED_URL" => ""}) == nil
  end

  test "the checksum file is parsed, never evaluated", %{tmp_dir: tmp} do
    file = Path.join(tmp, "checksum.exs")
    File.write!(file, ~s[%{"a.so.tar.gz" => "sha256:00"}])
    assert Precompiled.read_checksums(file) == {:ok, %{"a.so.tar.gz" => "sha256:00"}}
    File.write!(file, ~s[File.write!("x", "y")])
    assert {:error, _} = Precompiled.read_checksums(file)
    refute File.exists?("x")

    # The committed one lists only archives named for this version.
    {:ok, committed} = Precompiled.read_checksums(Precompiled.checksum_file())
    {version, nif} = release()

    assert Enum.all?(
             Map.keys(committed),
             &String.starts_with?(&1, "libwasmex_interp-v#{version}-nif-#{nif}-")
           )
  end

  defp with_env(name, value, fun) do
    previous = System.get_env(name)
    System.put_env(name, value)

    try do
      fun.()
    after
      if previous, do: System.put_env(name, previous), else: System.delete_env(name)
    end
  end
end
