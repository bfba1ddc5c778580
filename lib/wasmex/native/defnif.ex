defmodule Wasmex.Native.Defnif do
  @moduledoc false
  # The macro that defines `Wasmex.Native`'s NIFs that take a store or have a dirty twin.

  @doc false
  # `defnif name(arg, ...)` defines the private NIF stub `name_nif/n` and the public
  # `name/n`, which runs it through `Wasmex.Native`'s `run/4` with its first argument (the
  # store) waited for until `:infinity`. Options:
  #
  #   * `twin: true` - the NIF has a dirty twin, `name_dirty_nif/n`.
  #   * `deadline: true` - `name/n+1` takes the deadline of the wait as a last argument.
  defmacro defnif({name, _, args}, opts \\ []) do
    nif = :"#{name}_nif"
    dirty = :"#{name}_dirty_nif"
    stubs = Enum.map(args, fn {arg, _, _} -> Macro.var(:"_#{arg}", nil) end)
    deadline = if opts[:deadline], do: [Macro.var(:deadline, nil)], else: []
    wait_until = if opts[:deadline], do: Macro.var(:deadline, nil), else: :infinity

    {twin, twin_stub} =
      if opts[:twin] do
        {quote(do: fn -> unquote(dirty)(unquote_splicing(args)) end),
         quote(do: defp(unquote(dirty)(unquote_splicing(stubs)), do: nif_error()))}
      else
        {nil, nil}
      end

    quote do
      def unquote(name)(unquote_splicing(args ++ deadline)) do
        run(
          unquote(hd(args)),
          unquote(wait_until),
          fn -> unquote(nif)(unquote_splicing(args)) end,
          unquote(twin)
        )
      end

      defp unquote(nif)(unquote_splicing(stubs)), do: nif_error()
      unquote(twin_stub)
    end
  end
end
