//! The raw argon2id rate of this machine at the configured parameters (Rocket.toml and
//! GATEHOUSE_*), with as many threads as the server hashes at once: the ceiling the
//! server's login rate is compared with by bench/run.sh.
//!
//! cargo run --release --example argon2_rate -- [SECONDS]

use std::time::{Duration, Instant};

use argon2::{Algorithm, Argon2, Block, Params, Version};

fn main() {
    let seconds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let settings = gatehouse::settings(&gatehouse::figment()).unwrap_or_else(|e| {
        eprintln!("argon2_rate: {e}");
        std::process::exit(1);
    });
    let params = Params::new(
        settings.passwords.argon2_memory_kib,
        settings.passwords.argon2_iterations,
        settings.passwords.argon2_parallelism,
        None,
    )
    .expect("validated parameters");
    let threads = settings.passwords.hash_concurrency;
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let counts: Vec<u64> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                let params = params.clone();
                scope.spawn(move || {
                    // Memory reused across hashes, as the server's hashing threads do:
                    // the best this machine can do, the fairest ceiling to compare with.
                    let mut memory = vec![Block::default(); params.block_count()];
                    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
                    let mut out = [0u8; 32];
                    let mut count = 0u64;
                    while Instant::now() < deadline {
                        argon2
                            .hash_password_into_with_memory(
                                b"correct horse battery",
                                b"benchmark-salt-1",
                                &mut out,
                                &mut memory,
                            )
                            .expect("hash");
                        count += 1;
                    }
                    count
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("worker"))
            .collect()
    });
    let total: u64 = counts.iter().sum();
    let rate = total as f64 / started.elapsed().as_secs_f64();
    println!(
        "argon2id m={} KiB t={} p={} threads={threads}: {rate:.1} hashes/s",
        settings.passwords.argon2_memory_kib,
        settings.passwords.argon2_iterations,
        settings.passwords.argon2_parallelism
    );
}
