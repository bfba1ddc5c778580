defmodule Wasmex.Wasi.PreopenOptions do
  @moduledoc ~S"""
  A host directory a WASI guest may use, for `Wasmex.Wasi.WasiOptions`.

  The guest reaches only its preopened directories and what is under them: paths with
  `..` that leave them, and absolute paths outside them, fail in the guest.

  ## Options

    * `:path` - the directory on the host. Required.
    * `:alias` - the path the guest sees it under. Defaults to `:path`.

  ## Example

      iex> %Wasmex.Wasi.PreopenOptions{path: "/srv/app/data", alias: "data"}
      %Wasmex.Wasi.PreopenOptions{path: "/srv/app/data", alias: "data"}
  """

  @enforce_keys [:path]
  defstruct [:path, alias: nil]

  @type t :: %__MODULE__{path: String.t(), alias: String.t() | nil}
end
