# Offloading to a wasm worker with Task.async, as a LiveView commonly does: the
# caller (a LiveView, here a plain process) stays responsive and gets {ref, result}.
Code.require_file("guest.exs", __DIR__)

{:ok, _} =
  Wasmex.start_link(%{
    bytes: Examples.Guest.bytes(),
    imports: Examples.Guest.imports(),
    name: :wasm_worker
  })

task = Task.async(fn -> Wasmex.call_function(:wasm_worker, "add", [20, 1]) end)
ref = task.ref

receive do
  {^ref, {:ok, [result]}} when is_reference(ref) ->
    Process.demonitor(ref, [:flush])
    IO.puts("  handle_info got the task's result: #{result}")
end
