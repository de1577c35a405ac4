/**
 * First SIGINT/SIGTERM: ask the work to stop after the request in flight. Second: leave at once —
 * the state database is consistent at every step, so nothing is lost either way.
 */
export function onStopSignal(stop: () => void): () => void {
  let count = 0;
  const handler = (sig: NodeJS.Signals): void => {
    count++;
    if (count === 1) stop();
    else {
      process.stderr.write(`mm2migrate: ${sig} again, exiting now; the next run resumes from the state database\n`);
      process.exit(130);
    }
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
