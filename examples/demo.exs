# Runs every example in order: `./scripts/demo` or `mix run examples/demo.exs`.
examples = __DIR__ |> Path.join("[0-9]*.exs") |> Path.wildcard() |> Enum.sort()

for example <- examples do
  title = example |> Path.basename(".exs") |> String.replace("_", " ")
  IO.puts("\n== #{title}")
  Code.require_file(example)
end
