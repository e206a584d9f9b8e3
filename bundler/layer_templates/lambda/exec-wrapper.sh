#!/bin/sh
# Lambda exec wrapper written by photon-bundle (layer_templates/lambda/exec-wrapper.sh).
# Set AWS_LAMBDA_EXEC_WRAPPER={{WRAPPER_PATH}} on the function: Prisma then loads the query engine
# from this layer without any change to the function's code. A value already set on the function wins.
if [ -z "${{{ENGINE_VAR}}}" ]; then
  export {{ENGINE_VAR}}="{{ENGINE_PATH}}"
fi
exec "$@"
