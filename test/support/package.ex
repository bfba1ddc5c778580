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
end
