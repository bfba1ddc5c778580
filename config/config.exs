import Config

# The library needs no configuration; this file only exists for its own test runs.
if File.exists?(Path.join(__DIR__, "#{config_env()}.exs")),
  do: import_config("#{config_env()}.exs")
