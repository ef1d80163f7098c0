fn main() -> std::process::ExitCode {
    boa_det::cli::main()
}
