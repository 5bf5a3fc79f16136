// SST app definition for AWS. Placeholder until the serverless runtime lands: that work declares the data
// bucket (shuffle prefix with a lifecycle rule), the executor and coordinator functions, the HTTP API, the S3
// trigger and the GPU container workers here. Nothing in this file runs in tests yet.
/// <reference path="./.sst/platform/config.d.ts" />

export default $config({
  app(input) {
    return {
      name: 'squall',
      home: 'aws',
      removal: input?.stage === 'production' ? 'retain' : 'remove',
    };
  },
  async run() {
    return {};
  },
});
