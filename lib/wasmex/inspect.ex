# One Inspect implementation for every struct that wraps a NIF resource: they print as
# `#Wasmex.Module<#Reference<...>>`, never showing their fields (an instance carries the
# import callbacks).
defimpl Inspect,
  for: [
    Wasmex.Engine,
    Wasmex.StoreOrCaller,
    Wasmex.Module,
    Wasmex.Instance,
    Wasmex.Memory,
    Wasmex.Pipe
  ] do
  import Inspect.Algebra

  def inspect(%{__struct__: module, resource: resource}, opts) do
    name = module |> Module.split() |> Enum.join(".")
    concat(["#", name, "<", to_doc(resource, opts), ">"])
  end
end
