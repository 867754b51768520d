"""The CDK stack: one construct per capability (data, executor, api, events), composed by one
stack in `platform_stack`."""
