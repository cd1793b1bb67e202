//! Thin entry point: parse the command line, start logging, hand over to the command.
use clap::Parser;

// mimalloc rather than the system allocator: a lookup page allocates from several threads at once (the page,
// its verification threads, the database threads), where glibc's malloc spent about 7 % of the page's CPU.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
