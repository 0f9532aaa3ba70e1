// The command line of a script that takes no arguments: `--help` (or `-h`) prints its usage and exits 0;
// anything else is refused with the usage line and exit 2, as every script of the project does.

/** Exits as above unless the script was given no argument at all. */
export function takeNoArguments(command, usage) {
  const [arg] = process.argv.slice(2);
  if (arg === "--help" || arg === "-h") {
    console.log(usage);
    process.exit(0);
  }
  if (arg !== undefined) {
    console.error(`${command}: unknown argument ${arg}\n${usage}`);
    process.exit(2);
  }
}
