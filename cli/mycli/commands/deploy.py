"""`mycli init` and `mycli destroy`: the AWS deployment, for an admin with AWS credentials."""

from __future__ import annotations

from pathlib import Path

import click

from mycli import aws_deploy, aws_tools
from mycli.config import ConfigFile
from mycli.errors import CliError, ConfigError

AWS_PROFILE = "aws"

app_dir_option = click.option(
    "--app-dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="The directory holding cdk.json (default: found from here, or mycli's checkout).",
)
region_option = click.option("--region", help="AWS region (default: your AWS configuration).")


def say(message: str) -> None:
    click.echo(f"mycli: {message}", err=True)


@click.command()
@app_dir_option
@region_option
@click.option(
    "--admin-email",
    default=aws_deploy.DEFAULT_ADMIN_EMAIL,
    show_default=True,
    help="Owner of the first admin key.",
)
@click.option("--rotate-admin-key", is_flag=True, help="Issue a new admin key, revoking the old.")
@click.option(
    "--synth-only",
    is_flag=True,
    help="Check the tools and synthesize the stack (cdk synth); touch no AWS account.",
)
@click.option(
    "--context",
    "-c",
    "contexts",
    multiple=True,
    metavar="KEY=VALUE",
    help="A CDK context value for the deploy (e.g. the mycli:existing... values that "
    "`mycli destroy` prints to reattach kept data).",
)
@click.option("--no-doctor", is_flag=True, help="Do not run `mycli doctor` after deploying.")
@click.pass_context
def init(
    ctx: click.Context,
    app_dir: Path | None,
    region: str | None,
    admin_email: str,
    rotate_admin_key: bool,
    synth_only: bool,
    contexts: tuple[str, ...],
    no_doctor: bool,
) -> None:
    """Deploy the platform to AWS and configure the `aws` profile.

    Checks first what `./scripts/setup --aws` installs (boto3, the CDK app's Python packages,
    the CDK CLI) and Node, naming all that is missing (exit 1); then a container engine
    (docker, or CDK_DOCKER's command: the run agent's image is built locally; exit 1 when
    missing), AWS credentials and a region;
    bootstraps the account and region if needed; runs `cdk deploy`; creates the first admin
    key in the APIKeys table (an existing admin is kept unless --rotate-admin-key); writes the
    `aws` profile; runs `mycli doctor`.
    Safe to run again.
    """
    for value in contexts:
        if "=" not in value:
            raise ConfigError(f"--context takes KEY=VALUE, not {value!r}")
    directory = aws_deploy.find_app_dir(app_dir)
    command = "mycli init --synth-only" if synth_only else "mycli init"
    cdk = aws_tools.require_tools(directory, command, needs_aws_sdk=not synth_only)
    if synth_only:
        say(f"synthesizing the stack in {directory} (no AWS calls)")
        aws_deploy.CdkRunner(cdk, directory, region).run("synth", "--quiet")
        say(f"synthesized: {directory / 'cdk.out' / (aws_deploy.STACK_NAME + '.template.json')}")
        return
    engine = aws_deploy.find_container_engine()
    say(f"building the run agent's image with {engine}")
    session = aws_deploy.boto3_session(region)
    target = aws_deploy.resolve_target(session)
    say(f"deploying to account {target.account} in {target.region}")
    runner = aws_deploy.CdkRunner(cdk, directory, target.region)
    if not aws_deploy.is_bootstrapped(session):
        say("bootstrapping the CDK in this account and region (once)")
        runner.run("bootstrap", f"aws://{target.account}/{target.region}")
    outputs_file = directory / aws_deploy.OUTPUTS_FILE
    options = [f"mycli:apiLogging={aws_deploy.api_logging(session)}", *contexts]
    runner.run(
        "deploy",
        aws_deploy.STACK_NAME,
        "--require-approval",
        "never",
        "--outputs-file",
        str(outputs_file),
        *(argument for value in options for argument in ("--context", value)),
    )
    outputs = aws_deploy.read_outputs(outputs_file)
    new_key = aws_deploy.ensure_admin_key(
        session, outputs["ApiKeysTableName"], admin_email, rotate_admin_key
    )
    profile_name = ctx.obj.profile_name or AWS_PROFILE
    config = ConfigFile.load()
    config.set_profile(profile_name, make_current=True, api_url=outputs["ApiUrl"].rstrip("/"))
    if new_key:
        config.profiles[profile_name]["api_key"] = new_key
    path = config.save()
    if new_key:
        click.echo(
            f"Admin API key for {admin_email} "
            f"(shown once, saved in profile '{profile_name}'): {new_key}"
        )
    elif "api_key" not in config.profiles[profile_name]:
        say("an admin already exists; run again with --rotate-admin-key for a key of your own")
    say(f"profile '{profile_name}' in {path} points at {outputs['ApiUrl']}")
    if not no_doctor and "api_key" in config.profiles[profile_name]:
        from mycli.commands.doctor import run_doctor

        if not run_doctor(ctx.obj, timeout=300):
            raise CliError("deployed, but `mycli doctor` failed: see the phases above")
    say("next: `mycli whoami`, `mycli admin add-user EMAIL`, `mycli exec -- echo hello`")


@click.command()
@app_dir_option
@region_option
@click.option("--purge", is_flag=True, help="Also delete the retained tables and buckets (data!).")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def destroy(app_dir: Path | None, region: str | None, purge: bool, yes: bool) -> None:
    """Delete the AWS deployment (`cdk destroy`), stopping its running tasks first. The
    tables, buckets and the executions' logs are retained, with their data, unless --purge;
    the command prints how a later `mycli init` reattaches them."""
    directory = aws_deploy.find_app_dir(app_dir)
    cdk = aws_tools.require_tools(directory, "mycli destroy")
    session = aws_deploy.boto3_session(region)
    target = aws_deploy.resolve_target(session)
    what = "the stack AND every table and bucket (all records)" if purge else "the stack"
    if not yes:
        click.confirm(
            f"Delete {what} of {aws_deploy.STACK_NAME} in {target.account}/{target.region}?",
            abort=True,
        )
    resources = aws_deploy.stack_resources(session)
    aws_deploy.stop_running_tasks(session, resources, say)
    aws_deploy.CdkRunner(cdk, directory, target.region).run(
        "destroy", aws_deploy.STACK_NAME, "--force"
    )
    if purge:
        aws_deploy.purge(session, aws_deploy.retained_resources(resources), say)
        return
    say("tables, buckets and execution logs were kept with their data; `--purge` removes them")
    reattach = aws_deploy.reattach_context(resources)
    if reattach:
        flags = " ".join(f"-c {key}={name}" for key, name in reattach.items())
        say(f"to deploy again on the same data: mycli init {flags}")
