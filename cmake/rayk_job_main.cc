// The executable of a rayk job built with rayk_add_job(): it has no code of
// its own. main() and the remote functions live in the job's shared library,
// which this executable links and which workers load by path.
