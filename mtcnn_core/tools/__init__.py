"""What is built around the detector, never imported by it: the command line (`cli`, `commands`,
`options`) and the batch runner with its outputs and reports (`batch`)."""
