[
  inputs: ["{mix,.formatter}.exs", "{config,lib,mix,test,bench,examples}/**/*.{ex,exs}"]
]
