defmodule WasmexInterp.Package do
  @moduledoc false
  # The package as hex would publish it: exactly the files of mix.exs's `package: [files:]`.

  @doc "Copies the package's files into `dest`; raises if one of them is missing."
  @spec copy!(Path.t()) :: Path.t()
  def copy!(dest) do
    root = Path.dirname(Mix.Project.project_file())

    for entry <- Mix.Project.config()[:package][:files] do
      source = Path.join(root, entry)
      File.exists?(source) || raise "the package file #{entry} does not exist"
      File.mkdir_p!(Path.dirname(Path.join(dest, entry)))
      File.cp_r!(source, Path.join(dest, entry))
    end

    dest
  end

  @doc """
  Runs `mix run` in the project `dir` with `env`, calling `add(2, 3)` of a small module;
  returns `{output, exit status}`. The output has `add: {:ok, [5]}` when it worked.
  """
  @spec run_add(Path.t(), [{String.t(), String.t() | nil}]) :: {String.t(), non_neg_integer()}
  def run_add(dir, env) do
    script = """
    {:ok, store} = Wasmex.Store.new()
    {:ok, module} = Wasmex.Module.compile(store, ~s[(module (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))])
    {:ok, instance} = Wasmex.Instance.new(store, module, %{})
    IO.inspect(Wasmex.Instance.call_function(store, instance, "add", [2, 3]), label: "add")
    """

    System.cmd("mix", ["run", "-e", script], cd: dir, env: env, stderr_to_stdout: true)
  end
end
