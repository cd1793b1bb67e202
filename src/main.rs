//! Thin entry point: parse the command line, start logging, hand over to the command.
use clap::Parser;

fn main() {
    let cli = storedesk::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("storedesk: could not start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = runtime.block_on(storedesk::commands::run(cli)) {
        eprintln!("storedesk: {e:#}");
        std::process::exit(1);
    }
}
