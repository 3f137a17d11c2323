/**
 * @azure/functions ships one minified CommonJS file whose named exports Node's ES module loader
 * cannot detect, so the project imports its values through here (types import directly).
 */
import azureFunctions from '@azure/functions';

export const { app, HttpRequest, HttpResponse, InvocationContext } = azureFunctions;
