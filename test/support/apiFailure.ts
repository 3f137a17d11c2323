import { ApiError } from '../../shared/errors.js';

/** The ApiError a promise rejects with; any other outcome fails the test. */
export async function apiFailure(pending: Promise<unknown>): Promise<ApiError> {
  const error = await pending.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof ApiError)) throw new Error('expected an ApiError');
  return error;
}
