defmodule Wasmex.Plugin do
  @moduledoc false
  # The `priv/wasm/plugin.wasm` of the usage snippets (test/usage_snippets), as a fake OTP application `:my_app` on disk, so
  # that their code (relative `priv/wasm/...` paths and
  # `Application.app_dir(:my_app, ...)`) runs as written.

  @wat ~S[(module $plugin
    (memory (export "memory") 1)
    (func (export "process") (param i32) (result i32) (i32.mul (local.get 0) (i32.const 2)))
    (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))]

  @doc "Creates `<dir>/my_app/{ebin,priv/wasm/plugin.wasm}` and puts the app on the code path."
  def install!(dir) do
    root = Path.join(dir, "my_app")
    ebin = Path.join(root, "ebin")
    File.mkdir_p!(ebin)
    File.mkdir_p!(Path.join(root, "priv/wasm"))
    {:ok, wasm} = Wasmex.Wat.to_wasm(@wat)
    File.write!(Path.join(root, "priv/wasm/plugin.wasm"), wasm)
    File.write!(Path.join(root, "priv/wasm/module.wasm"), wasm)

    app = {:application, :my_app, [vsn: ~c"0.1.0", modules: [], registered: [], applications: []]}
    File.write!(Path.join(ebin, "my_app.app"), :io_lib.format(~c"~p.~n", [app]))
    true = :code.add_patha(String.to_charlist(ebin))
    root
  end

  @doc "Takes the fake app off the code path."
  def uninstall!(root) do
    :code.del_path(String.to_charlist(Path.join(root, "ebin")))
  end
end
