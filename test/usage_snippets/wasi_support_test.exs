defmodule Wasmex.UsageSnippets.WasiSupportTest do
  # The "WASI Support" and "Store Configuration" (WASI) snippets of Wasmex usage, as
  # written, with real directories at the snippets' paths. Not async: the snippets use paths relative to
  # the current directory, and one absolute path, /sandbox.
  use ExUnit.Case, async: false

  @moduletag :tmp_dir

  test "WASI support: args, env and two preopened directories", %{tmp_dir: dir} do
    File.mkdir_p!(Path.join(dir, "data"))
    File.mkdir_p!(Path.join(dir, "tmp"))
    File.write!(Path.join(dir, "data/config.toml"), "log_level = \"info\"\n")
    wasm_bytes = Wasmex.WasiTool.bytes()

    File.cd!(dir, fn ->
      # Create WASI-enabled store
      {:ok, store} =
        Wasmex.Store.new_wasi(%Wasmex.Wasi.WasiOptions{
          args: ["my-app", "--config", "/data/config.toml"],
          env: %{
            "LOG_LEVEL" => "info",
            "APP_ENV" => "production"
          },
          preopen: [
            %Wasmex.Wasi.PreopenOptions{path: "./data", alias: "data"},
            %Wasmex.Wasi.PreopenOptions{path: "./tmp", alias: "tmp"}
          ]
        })

      {:ok, module} = Wasmex.Module.compile(store, wasm_bytes)
      {:ok, instance} = Wasmex.Instance.new(store, module, %{})

      # Call WASI _start for command modules
      {:ok, _} = Wasmex.Instance.call_function(store, instance, "_start", [])
    end)

    # The same store configuration, with its output captured: the program found its
    # configuration file through the "data" preopen, and sees the environment.
    {:ok, stdout} = Wasmex.Pipe.new()

    options = %Wasmex.Wasi.WasiOptions{
      args: ["my-app", "--config", "/data/config.toml"],
      env: %{"LOG_LEVEL" => "info", "APP_ENV" => "production"},
      preopen: [
        %Wasmex.Wasi.PreopenOptions{path: Path.join(dir, "data"), alias: "data"},
        %Wasmex.Wasi.PreopenOptions{path: Path.join(dir, "tmp"), alias: "tmp"}
      ],
      stdout: stdout
    }

    for args <- [
          ["my-app", "--config", "/data/config.toml"],
          ["my-app", "env"],
          ["my-app", "write", "tmp/out", "x"]
        ] do
      {:ok, store} = Wasmex.Store.new_wasi(%{options | args: args})
      {:ok, module} = Wasmex.Module.compile(store, wasm_bytes)
      {:ok, instance} = Wasmex.Instance.new(store, module, %{})
      assert {:ok, []} = Wasmex.Instance.call_function(store, instance, "_start", [])
    end

    :ok = Wasmex.Pipe.seek(stdout, 0)

    assert Wasmex.Pipe.read(stdout) ==
             "config /data/config.toml:\nlog_level = \"info\"\n" <>
               "APP_ENV=production\nLOG_LEVEL=info\n" <> "wrote 1 bytes\n"

    assert File.read!(Path.join(dir, "tmp/out")) == "x"
  end

  test "store configuration: a WASI store with a preopened /sandbox" do
    created = not File.exists?("/sandbox")

    if created do
      # The snippet's directory; the test machine is expected to allow creating it.
      File.mkdir!("/sandbox")
    end

    try do
      # WASI-enabled store
      {:ok, store} =
        Wasmex.Store.new_wasi(%Wasmex.Wasi.WasiOptions{
          args: ["app", "--verbose"],
          env: %{"KEY" => "VALUE"},
          preopen: [
            %Wasmex.Wasi.PreopenOptions{
              path: "/sandbox",
              alias: "data"
            }
          ]
        })

      assert %Wasmex.StoreOrCaller{} = store
    after
      if created, do: File.rmdir!("/sandbox")
    end
  end
end
