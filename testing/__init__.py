"""What the tests and the benchmarks share and the installed package does not carry: a Ray cluster of
`ray start` nodes on loopback (``local_cluster``) and the process helpers around it (``processes``)."""
